# request_export(): the R side of egress_review.client.request_export. Same service, same credential: the
# project token the hub puts into the notebook server's environment (SANDKASSE_EGRESS_URL,
# SANDKASSE_EGRESS_TOKEN), the same API calls (create request, add each file with its sidecar, upload the
# content, submit, wait for the automatic checks).

.egress <- function() {
  url <- Sys.getenv("SANDKASSE_EGRESS_URL", "")
  token <- Sys.getenv("SANDKASSE_EGRESS_TOKEN", "")
  if (!nzchar(url) || !nzchar(token)) {
    stop("set SANDKASSE_EGRESS_URL and SANDKASSE_EGRESS_TOKEN (the hub does this in your notebook server)", call. = FALSE)
  }
  list(url = sub("/+$", "", url), token = token)
}

.call <- function(svc, method, path, json = NULL, body = NULL, headers = character(), query = NULL) {
  h <- curl::new_handle()
  hdr <- c(Authorization = paste("Bearer", svc$token), headers)
  if (!is.null(json)) {
    body <- charToRaw(enc2utf8(as.character(jsonlite::toJSON(json, auto_unbox = TRUE, null = "null", na = "null", digits = NA))))
    hdr <- c(hdr, `Content-Type` = "application/json")
  }
  curl::handle_setopt(h, customrequest = method, timeout = 300)
  if (!is.null(body)) {
    curl::handle_setopt(h, postfields = body)
    if (!"Content-Type" %in% names(hdr)) hdr <- c(hdr, `Content-Type` = "application/octet-stream")
  } else if (method == "POST") {
    curl::handle_setopt(h, postfields = raw(0))
  }
  curl::handle_setheaders(h, .list = as.list(hdr))
  url <- paste0(svc$url, path)
  if (!is.null(query)) url <- paste0(url, "?", paste(names(query), query, sep = "=", collapse = "&"))
  r <- tryCatch(curl::curl_fetch_memory(url, handle = h),
                error = function(e) stop(sprintf("cannot reach the egress service: %s", conditionMessage(e)), call. = FALSE))
  text <- rawToChar(r$content)
  Encoding(text) <- "UTF-8"
  if (r$status_code >= 400) {
    msg <- tryCatch(jsonlite::fromJSON(text)$error$message, error = function(e) NULL)
    stop(sprintf("%d: %s", r$status_code, if (is.null(msg)) substr(text, 1, 500) else msg), call. = FALSE)
  }
  jsonlite::fromJSON(text, simplifyVector = FALSE)
}

# unique per call without touching the researcher's random number stream (no sample())
.idempotency_key <- function() {
  digest::digest(paste(Sys.getpid(), format(Sys.time(), "%Y%m%d%H%M%OS6"), basename(tempfile())), algo = "md5")
}

.unique_names <- function(names) {
  seen <- character()
  out <- character()
  for (name in names) {
    candidate <- name
    k <- 1
    while (tolower(candidate) %in% seen) {
      k <- k + 1
      candidate <- if (grepl(".", name, fixed = TRUE)) sub("^(.*)\\.([^.]*)$", paste0("\\1_", k, ".\\2"), name) else paste0(name, "_", k)
    }
    seen <- c(seen, tolower(candidate))
    out <- c(out, candidate)
  }
  out
}

#' Put outputs into quarantine for review and submit them; returns (and prints) the automatic verdicts.
#' \code{items}: a named list (\code{list("days_by_area.csv" = result, "figure.png" = "fig.png")}) or an
#' unnamed one (results go under their name, made from the call unless \code{name=} was given).
request_export <- function(items, context, controls, supporting = character(), title = "", wait_seconds = 120,
                           show = TRUE) {
  if (inherits(items, "sdc_result") || is.character(items)) items <- if (is.character(items)) as.list(items) else list(items)
  if (missing(context) || missing(controls) || !nzchar(trimws(context)) || !nzchar(trimws(controls))) {
    stop("context (what the output is) and controls (what makes it safe) are both required", call. = FALSE)
  }
  svc <- .egress()
  tmp <- tempfile("sandkasse-export-")
  dir.create(tmp, mode = "0700")
  on.exit(unlink(tmp, recursive = TRUE))
  given <- names(items)
  if (is.null(given)) given <- rep("", length(items))
  files <- list()
  for (i in seq_along(items)) {
    item <- items[[i]]
    name <- if (nzchar(given[i])) .check_name(given[i]) else NULL
    if (inherits(item, "sdc_result")) {
      file_name <- if (!is.null(name)) (if (grepl("\\.(csv|tsv|xlsx|parquet)$", tolower(name))) name else paste0(name, ".csv")) else .file_name(item)
      folder <- file.path(tmp, i)
      dir.create(folder)
      out <- sdc_export(item, file.path(folder, file_name))
      files[[i]] <- list(path = out[["table"]], name = file_name, sidecar = jsonlite::fromJSON(out[["sidecar"]], simplifyVector = FALSE))
    } else if (is.character(item) && file.exists(item)) {
      side <- paste0(item, ".sdc.json")
      files[[i]] <- list(path = item, name = if (is.null(name)) basename(item) else name,
                         sidecar = if (file.exists(side)) jsonlite::fromJSON(side, simplifyVector = FALSE) else NULL)
    } else {
      stop("give file paths or results of the sdc_ wrappers", call. = FALSE)
    }
  }
  names_sent <- .unique_names(vapply(files, `[[`, character(1), "name"))
  req <- .call(svc, "POST", "/api/v1/requests", json = list(title = title),
               headers = c(`Idempotency-Key` = .idempotency_key()))
  outputs <- character()
  add <- function(path, name, kind, sidecar) {
    f <- .call(svc, "POST", sprintf("/api/v1/requests/%s/files", req$id),
               json = list(name = name, kind = kind, context = context, controls = controls, sidecar = sidecar))
    .call(svc, "PUT", sprintf("/api/v1/requests/%s/files/%s/content", req$id, f$id),
          body = readBin(path, "raw", file.info(path)$size))
  }
  for (i in seq_along(files)) {
    up <- add(files[[i]]$path, names_sent[i], "output", files[[i]]$sidecar)
    outputs <- c(outputs, up$file$id)
  }
  for (path in supporting) add(path, basename(path), "supporting", NULL)
  .call(svc, "POST", sprintf("/api/v1/requests/%s/submit", req$id))
  deadline <- Sys.time() + wait_seconds
  delay <- 0.2
  repeat {
    done <- .call(svc, "GET", sprintf("/api/v1/requests/%s", req$id))
    pending <- Filter(function(f) !isTRUE(f$withdrawn) && identical(f$current_version$verdict, "pending"), done$files)
    if (!length(pending) || Sys.time() >= deadline) break
    Sys.sleep(delay)
    delay <- min(delay * 1.5, 2)
  }
  by_id <- stats::setNames(done$files, vapply(done$files, `[[`, character(1), "id"))
  verdicts <- lapply(outputs, function(id) {
    f <- by_id[[id]]
    report <- f$current_version$check_report
    flags <- vapply(report$flags, function(x) as.character(if (!is.null(x$message)) x$message else x$rule), character(1))
    list(name = f$name, verdict = if (is.null(f$current_version$verdict)) "pending" else f$current_version$verdict,
         flags = flags)
  })
  result <- structure(list(request_id = done$id, state = done$state, files = verdicts), class = "sdc_export_result")
  if (show) print(result)
  invisible(result)
}

print.sdc_export_result <- function(x, ...) {
  cat(sprintf("Release request %s: %s\n", x$request_id, x$state))
  for (f in x$files) {
    cat(sprintf("  %s: automatic checks say %s\n", f$name, toupper(f$verdict)))
    for (m in utils::head(f$flags, 20)) cat(sprintf("    - %s\n", m))
  }
  cat("Output checkers will review it; nothing leaves before they approve.\n")
  invisible(x)
}

#' Your release requests in this project and their states.
export_status <- function(show = TRUE) {
  rows <- .call(.egress(), "GET", "/api/v1/requests", query = c(mine = "true", page_size = "100"))$items
  if (show) {
    if (!length(rows)) cat("No release requests yet.\n")
    for (r in rows) cat(sprintf("%s  %-10s %s file(s)  %s\n", r$id, r$state, r$file_count, r$title))
  }
  invisible(rows)
}
