"""Online evaluation: sampling, the persisted queue, workers, and alerts on monitored traffic."""
