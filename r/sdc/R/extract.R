# Reading a project extract. Debian bookworm has no r-cran-arrow, so a Parquet extract is turned into a
# temporary CSV by the image's pandas/pyarrow (the reader the Python wrappers use), with each column's type,
# and read back with those types: pseudonyms stay text even when one happens to look like a number.

.python <- function() {
  p <- Sys.getenv("SANDKASSE_PYTHON", "/opt/venv/bin/python")
  if (file.exists(p)) p else Sys.which("python3")
}

.TO_CSV <- paste(
  "import json, sys, pandas as pd",
  "df = pd.read_parquet(sys.argv[1])",
  "df.to_csv(sys.argv[2], index=False)",
  "kind = lambda t: 'logical' if pd.api.types.is_bool_dtype(t) else 'numeric' if pd.api.types.is_numeric_dtype(t) else 'character'",
  "print(json.dumps({str(c): kind(t) for c, t in df.dtypes.items()}))",
  sep = "\n")

#' Read an extract (.parquet or .csv) into a data frame.
sdc_read_extract <- function(path) {
  path <- original <- normalizePath(path, mustWork = TRUE)
  classes <- NA
  if (tolower(tools::file_ext(path)) == "parquet") {
    csv <- tempfile(fileext = ".csv")
    on.exit(unlink(csv))
    script <- tempfile(fileext = ".py")
    on.exit(unlink(script), add = TRUE)
    writeLines(.TO_CSV, script)
    out <- system2(.python(), c(shQuote(script), shQuote(path), shQuote(csv)), stdout = TRUE)
    status <- attr(out, "status")
    if (!is.null(status) && status != 0) stop(sprintf("could not read %s", path), call. = FALSE)
    classes <- unlist(jsonlite::fromJSON(out[length(out)]))
    path <- csv
  }
  df <- utils::read.csv(path, stringsAsFactors = FALSE, check.names = FALSE, encoding = "UTF-8", na.strings = "",
                        colClasses = classes)
  .remember_extract(df, original)
}
