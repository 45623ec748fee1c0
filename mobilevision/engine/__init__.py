"""The machinery every task shares: training options, the training loop, the validate and
predict runners, checkpoints, device and mixed precision, torchrun, optimizers and schedules, EMA,
resumable sampling and run folders. It sits under the tasks: a task hands the runners its model,
data and evaluator; the engine never imports a task."""
