"""Operator actions (issue 14): approve a ``needs_human`` run, request a rerun, cancel a run,
replay a dead letter. The api function and the command line share this code path
(:func:`shared.operator.actions.act`)."""
