# evaluate never calls model.eval(): dropout keeps dropping units at random and batch norm normalises
# with each batch's statistics (and updates its running statistics), so the accuracy is noisy and the
# model changes. Call model.eval() before the loop.
def evaluate(model, loader, device):
    correct, total = 0, 0
    with torch.no_grad():
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            predicted = model(images).argmax(dim=1)
            correct += (predicted == labels).sum().item()
            total += labels.size(0)
    return correct / total
