# Gradients are never reset, so backward() adds each batch's gradient to all the earlier ones and
# every step applies their sum: training oscillates or diverges. Call optimizer.zero_grad() once per
# batch, before loss.backward().
def train_one_epoch(model, loader, loss_fn, optimizer, device):
    model.train()
    total = 0.0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)
        loss = loss_fn(logits, labels)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader)
