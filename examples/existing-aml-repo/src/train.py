"""A placeholder training script: the walkthrough is about its environment."""

print("training")
