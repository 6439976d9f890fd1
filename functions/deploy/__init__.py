"""deploy: GitOps sync or Argo submit of the merge commit, post-deploy verification, revert."""
