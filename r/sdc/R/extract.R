# Reading a project extract. Debian bookworm has no r-cran-arrow, so a Parquet extract is turned into a
# temporary CSV by the image's pyarrow (the same reader the Python wrappers use) and read back with
# utf8 text and the column types pyarrow wrote.

.python <- function() {
  p <- Sys.getenv("SANDKASSE_PYTHON", "/opt/venv/bin/python")
  if (file.exists(p)) p else Sys.which("python3")
}

#' Read an extract (.parquet or .csv) into a data frame.
sdc_read_extract <- function(path) {
  path <- normalizePath(path, mustWork = TRUE)
  if (tolower(tools::file_ext(path)) == "parquet") {
    csv <- tempfile(fileext = ".csv")
    on.exit(unlink(csv))
    code <- "import sys, pandas as pd; pd.read_parquet(sys.argv[1]).to_csv(sys.argv[2], index=False)"
    status <- system2(.python(), c("-c", shQuote(code), shQuote(path), shQuote(csv)))
    if (status != 0) stop(sprintf("could not read %s", path), call. = FALSE)
    path <- csv
  }
  utils::read.csv(path, stringsAsFactors = FALSE, check.names = FALSE, encoding = "UTF-8", na.strings = "")
}
