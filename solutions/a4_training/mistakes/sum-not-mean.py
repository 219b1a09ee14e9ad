# The epoch's loss is the sum of the batch losses, not their mean: it grows with the number of
# batches and cannot be compared between loaders. Divide by the number of batches, len(loader).
def train_one_epoch(model, loader, loss_fn, optimizer, device):
    model.train()
    total = 0.0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        optimizer.zero_grad()
        logits = model(images)
        loss = loss_fn(logits, labels)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total
