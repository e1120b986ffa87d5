"""Cases and the regulation: links, linking rules, stage vocabulary, the 24-hour rule, overdue.

``links`` records links and runs the automatic rules after a docking; ``rules`` and ``vocab``
are the pure rules and the Chinese/English names; ``compliance`` the pure deadline and A/V-gap
arithmetic; ``offload`` measures and flags offloads; ``overdue`` builds the report; ``lifecycle``,
``decisions`` (Art. 32 approval) and ``stages`` (Art. 4) record a case's life as events;
``steps`` names the fault tests' points inside the operations' transactions. Imports media and
the wiring modules only.
"""
