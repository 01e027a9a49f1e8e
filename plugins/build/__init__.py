"""The build of both sites and everything beside them (`build.py build`), and the preview that rebuilds them live (`build.py serve`)."""
