"""The data doctor: duplicates and split leakage, likely label errors and quality lint,
found on a dataset before training, from the backbone features the run caches anyway."""
