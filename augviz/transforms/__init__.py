"""Registry entries. Importing this package registers every transform defined in its modules.

Every module here is imported, in the order of their names, so a new transform is one new module (or one more
class in an existing one): nothing else has to list it. The UI, the docs and the tests sort the registry by
category and name, so the import order decides nothing a user sees.
"""

import importlib
import pkgutil

MODULES = tuple(importlib.import_module(f"{__name__}.{m.name}") for m in pkgutil.iter_modules(__path__))
