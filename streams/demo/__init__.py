"""An offline demo news site (invented stories in uk/ru/en) served on 127.0.0.1."""

from streams.demo.pages import PAGES, DemoPage
from streams.demo.site import DemoSite

__all__ = ["PAGES", "DemoPage", "DemoSite"]
