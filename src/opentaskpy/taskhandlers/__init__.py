"""Task handlers: transfers, executions and batches."""
