"""A fine-tuned model on disk, with one owner per file: ``labels`` (``labels.json``, checked,
and the checked reading of an export folder or zip), ``exported`` (the loaded export and its
one way to predict), ``export`` (writing an export folder and the download's zip),
``card`` (the model card, ``metrics.json``'s data, the "use it" snippets) and
``run_folder`` (a finished run between the training process and the server). A saved
project and a Hub push build on these."""
