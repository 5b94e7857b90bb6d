# The disclosure policy (policies/disclosure.yaml), read the way egress_review.checks.policy reads it:
# $SANDKASSE_POLICIES_DIR/disclosure.yaml over the same defaults (ACRO 1.0.2's), so the sidecar carries the
# same policy dump as a Python one. Unknown keys are refused, as pydantic's extra="forbid" does.

.policy_defaults <- function() {
  list(
    version = 1L,
    threshold = list(enabled = TRUE, severity = "fail", min_count = 10L),
    zero = list(enabled = TRUE, severity = "fail"),
    nk = list(enabled = TRUE, severity = "fail", n = 2L, k = 0.9),
    p_percent = list(enabled = TRUE, severity = "fail", p = 0.1),
    negative = list(enabled = TRUE, severity = "review"),
    missing = list(enabled = FALSE, severity = "review"),
    dof = list(enabled = TRUE, severity = "fail", min_dof = 10L),
    rounding = list(enabled = FALSE, severity = "fail", base = 5L, method = "nearest"),
    entity = list(require_for_person_level = TRUE),
    identifier = list(enabled = TRUE, severity = "fail", national_id = TRUE, email = TRUE, phone = TRUE,
                      project_values = TRUE, min_value_length = 4L),
    record_level = list(enabled = TRUE, severity = "fail", min_rows = 20L, distinct_label_fraction = 1.0,
                        distinct_label_min_rows = 50L, count_one_fraction = 0.5, entitled_row_ratio = 0.8),
    secondary_suppression = list(enabled = TRUE, line_total_min = 10L, min_interval = 5.0),
    differencing = list(enabled = TRUE, severity = "fail"),
    replay = list(enabled = TRUE, not_replayable = "note"),
    files = list(max_bytes = 20000000L,
                 allowed_types = c("csv", "tsv", "xlsx", "parquet", "png", "svg", "pdf", "txt", "md", "ipynb"),
                 archives = "refuse", notebooks = "check", strip_image_metadata = TRUE, max_flags_per_rule = 200L)
  )
}

.merge_policy <- function(defaults, raw, where = "policy") {
  for (key in names(raw)) {
    if (!key %in% names(defaults)) stop(sprintf("%s: unknown key %s", where, key), call. = FALSE)
    d <- defaults[[key]]
    v <- raw[[key]]
    if (is.list(d) && !is.null(names(d))) {
      if (!is.list(v)) stop(sprintf("%s.%s must be a mapping", where, key), call. = FALSE)
      defaults[[key]] <- .merge_policy(d, v, paste0(where, ".", key))
    } else {
      if (is.null(v)) next
      if (is.numeric(d) && !is.numeric(v)) stop(sprintf("%s.%s must be a number", where, key), call. = FALSE)
      if (is.logical(d) && !is.logical(v)) stop(sprintf("%s.%s must be true or false", where, key), call. = FALSE)
      defaults[[key]] <- if (is.integer(d) && is.numeric(v) && v == round(v)) as.integer(v) else v
    }
  }
  defaults
}

# libyaml reads the key "n" (nk.n) as false; PyYAML, which the Python side uses, keeps y/n as text
.bool_or_text <- function(x) {
  v <- tolower(x)
  if (v %in% c("true", "yes", "on")) TRUE else if (v %in% c("false", "no", "off")) FALSE else x
}
.pyyaml_bools <- list("bool#yes" = .bool_or_text, "bool#no" = .bool_or_text)

.policy_file <- function() {
  dir <- Sys.getenv("SANDKASSE_POLICIES_DIR", "")
  if (nzchar(dir) && file.exists(file.path(dir, "disclosure.yaml"))) return(file.path(dir, "disclosure.yaml"))
  NULL
}

#' The disclosure policy: \code{path}, else $SANDKASSE_POLICIES_DIR/disclosure.yaml, else the defaults.
sdc_policy <- function(path = NULL) {
  path <- if (is.null(path)) .policy_file() else path
  if (is.null(path)) return(.policy_defaults())
  raw <- yaml::read_yaml(path, handlers = .pyyaml_bools)
  if (is.null(raw)) raw <- list()
  p <- .merge_policy(.policy_defaults(), raw)
  if (p$threshold$min_count < 1) stop("threshold.min_count must be at least 1", call. = FALSE)
  if (p$nk$n < 1 || p$nk$k <= 0 || p$nk$k > 1) stop("nk: n >= 1 and 0 < k <= 1", call. = FALSE)
  if (p$p_percent$p <= 0 || p$p_percent$p >= 1) stop("p_percent.p must lie between 0 and 1", call. = FALSE)
  if (p$rounding$base < 2) stop("rounding.base must be at least 2", call. = FALSE)
  p
}

.severity_of <- function(policy, rule) {
  s <- policy[[rule]]$severity
  if (is.null(s)) "fail" else s
}
