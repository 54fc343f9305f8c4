"""MLPerf Tiny v0.5 visual wake words: MobileNetV1-0.25 on 96x96 person/non-person images."""
