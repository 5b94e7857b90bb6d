"""The notebook an output was made with: attached by ``request_export`` as a supporting file (never
released), its code shown to the checkers (:mod:`.code`), and, when ``notebooks.reexecute`` is on in
``policies/egress.yaml``, re-run before review in a fresh sandbox container (:mod:`.worker`)."""
