# The pixels are kept as 0..255 instead of being scaled to [0, 1]. Networks train badly on inputs
# that large (activations and gradients blow up with the scale); divide the pixels by 255.
class MnistDataset(Dataset):
    def __init__(self, csv_file):
        table = np.loadtxt(csv_file, delimiter=",", dtype=np.int64, ndmin=2)
        self.labels = table[:, 0]
        self.images = torch.tensor(table[:, 1:], dtype=torch.float32)
        self.targets = torch.nn.functional.one_hot(torch.from_numpy(self.labels), num_classes=10).float()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return int(self.labels[i]), self.images[i], self.targets[i]
