"""Training: the U-Net and its data stream, the budgeted resumable training loop, transfer
learning, whole-image prediction and inference engines, and the executors that run trials
(locally, in isolated processes, or on Ray)."""
