"""The built-in detectors as pure decision functions over plain data (no ORM, no I/O): one module
per detector, the turn and detection structures in ``base``, and ``runner.run_detectors``, which
runs every enabled detector and customer rule over a batch of sessions."""
