"""MLPerf Tiny v0.5 anomaly detection: FC autoencoder on ToyADMOS ToyCar log-mel frames (DCASE 2020 Task 2)."""
