# The disclosure policy (policies/disclosure.yaml), read by egress_review.checks.policy through the image's
# Python: one reader and one set of defaults for both languages, so an R sidecar carries the same policy
# dump as a Python one and a section R does not use (publication, say) needs no R change.

.POLICY_PY <- paste(
  "import sys",
  "from pathlib import Path",
  "from egress_review.checks.policy import load_disclosure_policy",
  "print(load_disclosure_policy(Path(sys.argv[1]) if len(sys.argv) > 1 else None).model_dump_json())",
  sep = "\n")

#' The disclosure policy: \code{path}, else $SANDKASSE_POLICIES_DIR/disclosure.yaml, else the defaults.
sdc_policy <- function(path = NULL) {
  script <- tempfile(fileext = ".py")
  on.exit(unlink(script))
  writeLines(.POLICY_PY, script)
  args <- c(shQuote(script), if (!is.null(path)) shQuote(normalizePath(path, mustWork = TRUE)))
  out <- suppressWarnings(system2(.python(), args, stdout = TRUE, stderr = TRUE))
  status <- attr(out, "status")
  if (!is.null(status) && status != 0) {
    stop(paste(c("the disclosure policy could not be read:", utils::tail(out, 3)), collapse = "\n"), call. = FALSE)
  }
  jsonlite::fromJSON(out[length(out)], simplifyVector = TRUE)
}

.severity_of <- function(policy, rule) {
  s <- policy[[rule]]$severity
  if (is.null(s)) "fail" else s
}
