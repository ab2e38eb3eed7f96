"""Publishing the report where reviewers look: a sticky PR/MR comment with its images,
a status check, and the CI's own surfaces — on GitHub, on GitLab, or into local files
when no CI is detected."""
