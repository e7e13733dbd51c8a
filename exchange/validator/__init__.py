"""The validation service (``ptx serve validator``): POST a document, get the report to file.

The KoSIT validator daemon's contract: **200** acceptable, **406** not acceptable, **422** cannot be processed (not
well-formed, no scenario applies, a rules file failed to run); the report as JSON (default), SVRL
(``Accept: application/svrl+xml`` or ``?format=svrl``) or one self-contained HTML page (``text/html``). Compiled
rules are kept warm: every rules file of the scenarios is compiled before the service listens.
"""

from exchange.validator._app import ValidatorSettings, create_app

__all__ = ["ValidatorSettings", "create_app"]
