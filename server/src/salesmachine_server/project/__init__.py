"""From the data to what follows from it: history, and playbooks' triggers firing."""
