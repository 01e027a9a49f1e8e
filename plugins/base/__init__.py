"""What every floor above uses and that needs nothing of the project: fingerprints, locks, processes, French argparse, the environment."""
