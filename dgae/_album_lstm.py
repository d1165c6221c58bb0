"""The mesh paper's M3 network: a bidirectional LSTM over an album, one cell distribution per photo.

PyTorch is optional (the ``cnn`` extra); importing this module without it
raises an ImportError that names the extra.
"""
import numpy as np

from .utils import require

torch = require("torch", "cnn", purpose="AlbumRefiner(method='lstm')")


class AlbumLSTM(torch.nn.Module):
    """Bidirectional LSTM, then a linear map to cell logits at every step."""

    def __init__(self, n_inputs, n_cells, hidden_size):
        super().__init__()
        self.lstm = torch.nn.LSTM(n_inputs, hidden_size, batch_first=True, bidirectional=True)
        self.out = torch.nn.Linear(2 * hidden_size, n_cells)

    def forward(self, x, lengths):
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                         enforce_sorted=False)
        h, _ = self.lstm(packed)
        h, _ = torch.nn.utils.rnn.pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
        return self.out(h)


def _batch(F, chunks):
    """Zero-padded (albums, steps, inputs) tensor, the lengths and the padding mask."""
    lengths = torch.tensor([len(c) for c in chunks])
    x = torch.zeros(len(chunks), int(lengths.max()), F.shape[1])
    for i, rows in enumerate(chunks):
        x[i, :len(rows)] = torch.from_numpy(F[rows])
    mask = torch.arange(x.shape[1])[None, :] < lengths[:, None]
    return x, lengths, mask


def train_album_lstm(F, labels, chunks, n_cells, hidden_size, max_epochs, learning_rate,
                     random_state, batch_size=32):
    """Adam on the masked cross-entropy of every photo of every album (padding and unknown cells skipped).

    Returns the trained module (in eval mode), with ``loss_curve_`` (mean loss per epoch).
    """
    from sklearn.utils import check_random_state

    rng = check_random_state(random_state)
    torch.manual_seed(int(rng.randint(2**31 - 1)))
    model = AlbumLSTM(F.shape[1], n_cells, hidden_size)
    opt = torch.optim.Adam(model.parameters(), lr=learning_rate)
    target = torch.from_numpy(np.asarray(labels, dtype=np.int64))
    model.loss_curve_ = []
    for _ in range(max_epochs):
        total, count = 0.0, 0
        order = rng.permutation(len(chunks))
        for s in range(0, len(chunks), batch_size):
            part = [chunks[i] for i in order[s:s + batch_size]]
            x, lengths, mask = _batch(F, part)
            y = torch.full(mask.shape, -1, dtype=torch.int64)
            for i, rows in enumerate(part):
                y[i, :len(rows)] = target[rows]
            logits = model(x, lengths)
            loss = torch.nn.functional.cross_entropy(logits[mask], y[mask], ignore_index=-1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, count = total + float(loss) * int(mask.sum()), count + int(mask.sum())
        model.loss_curve_.append(total / max(count, 1))
    return model.eval()


def predict_album_lstm(model, F, chunks, batch_size=256):
    """Cell probabilities of each album's photos: a list of (len(chunk), n_cells) arrays."""
    out = []
    with torch.no_grad():
        for s in range(0, len(chunks), batch_size):
            part = chunks[s:s + batch_size]
            x, lengths, _ = _batch(F, part)
            proba = torch.softmax(model(x, lengths), dim=-1).numpy()
            out += [proba[i, :len(rows)] for i, rows in enumerate(part)]
    return out
