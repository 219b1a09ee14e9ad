# make_loader does not pass shuffle on (shuffle=True written out, or left out so it is never
# shuffled): with shuffle=False the order must be the dataset's, with shuffle=True a new random
# order every epoch. Pass shuffle=shuffle.
def make_loader(dataset, batch_size, shuffle=True):
    return DataLoader(dataset, batch_size=batch_size, shuffle=True)
