"""Outcomes (协商结果), the public notice page (公示栏), implementation and evaluation."""


def init_app(app):
    pass
