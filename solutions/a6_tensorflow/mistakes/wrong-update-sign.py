# The update adds the gradient (assign_add) instead of subtracting it, so every step climbs the
# loss and the training diverges. Gradient descent moves against the gradient:
# W.assign_sub(learning_rate * grad_W).
def training_step(inputs, targets, W, b, learning_rate):
    with tf.GradientTape() as tape:
        predictions = model(inputs, W, b)
        loss = square_loss(targets, predictions)
    grad_loss_wrt_W, grad_loss_wrt_b = tape.gradient(loss, [W, b])
    W.assign_add(grad_loss_wrt_W * learning_rate)
    b.assign_add(grad_loss_wrt_b * learning_rate)
    return loss
