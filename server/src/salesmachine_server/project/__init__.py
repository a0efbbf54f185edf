"""From the stored data to the model: the health history, kept current and rebuilt; playbooks' triggers firing."""
