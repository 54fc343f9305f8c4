"""MLPerf Tiny v0.5 keyword spotting: DS-CNN on Speech Commands v0.02 MFCCs (12 classes)."""
