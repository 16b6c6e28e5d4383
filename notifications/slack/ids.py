"""Action, block and callback ids: the contract between the messages cxbot posts and the
handlers that receive clicks on them."""

ONGOING = "cx_ongoing"  # button: opens the status modal for "ongoing"
RESOLVED = "cx_resolved"  # button: opens the status modal for "resolved"
CUSTOMER = "cx_customer"  # button: shows the customer record
ACTIONS_BLOCK = "cx_actions"

STATUS_MODAL = "cx_status"  # callback id of the status modal
NOTE_BLOCK = "cx_note"
NOTE_INPUT = "cx_note_input"

CUSTOMER_MODAL = "cx_customer_card"
