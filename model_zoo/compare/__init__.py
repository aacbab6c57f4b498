"""Compare: the ImageNet models side by side. ``inference`` (a classifier per model and a
comparison of all), ``loading`` (loading them in the background), ``explain`` (their
Grad-CAM) and ``precheck`` (what they already see in a fine-tuning dataset's classes)."""
