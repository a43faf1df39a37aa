from tests.fuzz import tally


def pytest_terminal_summary(terminalreporter):
    if tally.TRIED:
        terminalreporter.write_line(tally.summary())
