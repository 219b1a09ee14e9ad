# The update rebinds the names instead of changing the variables: W = W - learning_rate * grad
# makes a new tensor called W inside the function, and the tf.Variable the caller passed in is
# never changed, so nothing is learned. Update a tf.Variable in place: W.assign_sub(...).
def training_step(inputs, targets, W, b, learning_rate):
    with tf.GradientTape() as tape:
        predictions = model(inputs, W, b)
        loss = square_loss(targets, predictions)
    grad_loss_wrt_W, grad_loss_wrt_b = tape.gradient(loss, [W, b])
    W = W - grad_loss_wrt_W * learning_rate
    b = b - grad_loss_wrt_b * learning_rate
    return loss
