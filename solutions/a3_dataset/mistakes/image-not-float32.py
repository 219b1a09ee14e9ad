# The image is a float64 tensor: NumPy computes `pixels / 255.0` in float64 and torch.from_numpy
# keeps the array's dtype, while a model's float32 weights expect float32 inputs ("mat1 and mat2
# must have the same dtype"). Convert with .float() or torch.tensor(..., dtype=torch.float32).
class MnistDataset(Dataset):
    def __init__(self, csv_file):
        table = np.loadtxt(csv_file, delimiter=",", dtype=np.int64, ndmin=2)
        self.labels = table[:, 0]
        self.images = torch.from_numpy(table[:, 1:] / 255.0)
        self.targets = torch.nn.functional.one_hot(torch.from_numpy(self.labels), num_classes=10).float()

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return int(self.labels[i]), self.images[i], self.targets[i]
