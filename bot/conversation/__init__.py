"""The conversation contract, independent of the channel.

first contact → greeting + privacy notice + ask identity (one message) → verify against the directory → classify
→ confident: template answer + "did this help?" → yes: resolved by the bot / no: hand off
→ unsure, or the user asks for a person at any point: hand off (a ticket, held to its SLA targets)
While a ticket is open the bot stays silent and files what the user writes on the ticket, on whichever of
the person's channels they write (``joining.file_on_open_ticket``): a verified contact's new channel joins the
ticket with one acknowledgement instead of starting a second conversation with the bot.

The modules, each importing only those above it:

- ``deps``: ``FlowDeps`` (what the process hands the conversation), ``Predictor``, ``HandleResult``, ``KeyedLocks``;
- ``lexicon``: the words the bot reads (yes, no, a code, consent, a choice, ``read_message``);
- ``ingest``: storing an inbound message with its identity and conversation (``store_inbound``);
- ``turn``: the turn object, ``Turn``, that the steps read and reply through;
- ``proof``: directory lookups within the guessing limits, the claim, proof by address or code;
- ``replies``: the greeting, the hours (``hours_text``), the hand-off;
- ``questions``: a question, its answer, clarification, feedback, follow-up, an incident's notice;
- ``survey``: the rating and its comment after a ticket closes;
- ``joining``: a message filed on an open ticket, from any of the person's channels;
- ``identity``: first contact, consent, the identity step, the code step;
- ``commands``: slash commands and the language switch;
- ``steps``: the dispatcher: the checks every step shares, then ``STEPS``, a table keyed by ``FlowStep``;
- ``run``: one stored message's turn (``run_turn``, ``prefetch``, ``hand_over_failed``), which bot.turns runs;
- ``inline``: store and run a turn before returning (``handle_inbound``, ``process_inbound``), above bot.turns:
  what bot.inbound's door runs in-line (the web chat), and what tests call directly.

This ``__init__`` imports nothing: bot.turns imports ``run`` and ``inline`` imports bot.turns, so a
re-export here would make the package import itself half-built.
"""
