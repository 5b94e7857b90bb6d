"""The application portal ("single window"): applicants apply for data, dataset owners, the data
protection officer and the controller's representative decide, and an approved application becomes
its project. Server-rendered on the shared web machinery of :mod:`sandkasse.web`; every route asks
one function of :mod:`provisioning.applications.permissions`. Run with
``uvicorn provisioning.portal.app:create_app --factory``."""
