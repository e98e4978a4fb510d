"""One run and its files: the trainer and the loop each algorithm plugs into it, checkpoints, resume,
logging, evaluation, reward-free selection and sweep summaries."""
