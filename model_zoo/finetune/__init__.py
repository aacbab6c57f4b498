"""Fine-tune: teach a backbone new classes from a zip of class folders.

``settings`` and ``events`` (no Keras: what a run is asked and what it tells), ``model``
(assembly from standard layers), ``features`` (pixels, one backbone pass, its cache),
``fit`` (one stage), ``training`` (a whole run), ``evaluation``, ``jobs`` and ``worker``
(runs in a child process for the app), ``export`` (the download).
"""
