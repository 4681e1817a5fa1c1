"""Hello: the example CareBusiness plugin.

The platform finds it through the ``carebiz.plugins`` entry point ``hello``, which names
:mod:`carebiz_hello.plugin`; everything else in the package is an ordinary small Flask app
(models, schemas, services, signals, API, pages, templates, migrations, translations)."""

__version__ = "0.1.0"
