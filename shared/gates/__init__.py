"""Pure domain rules (no I/O): the CI verdict, the review verdict, the judge's deterministic
gates, the offline judge and the LLM verdict schema. Functions feed them rows and GitHub objects
and store what they return."""
