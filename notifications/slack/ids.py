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

REVIEW_REPLY = "cx_review_reply"  # button: opens the public reply modal of a review
REVIEW_APPROVE = "cx_review_approve"  # button: publish a held review now, without a reply
REVIEW_ACTIONS_BLOCK = "cx_review_actions"
REVIEW_MODAL = "cx_review"  # callback id of the reply modal
REVIEW_REPLY_BLOCK = "cx_review_reply_text"
REVIEW_REPLY_INPUT = "cx_review_reply_input"

# /cx complaint: the form that registers an external complaint
COMPLAINT_MODAL = "cx_complaint"
COMPLAINT_DEALER_BLOCK = "cx_complaint_dealer"
COMPLAINT_CUSTOMER_BLOCK = "cx_complaint_customer"
COMPLAINT_NAME_BLOCK = "cx_complaint_name"
COMPLAINT_PHONE_BLOCK = "cx_complaint_phone"
COMPLAINT_EMAIL_BLOCK = "cx_complaint_email"
COMPLAINT_VIA_BLOCK = "cx_complaint_via"
COMPLAINT_RECEIVED_BLOCK = "cx_complaint_received"
COMPLAINT_DESCRIPTION_BLOCK = "cx_complaint_description"
COMPLAINT_INPUT = "cx_complaint_input"  # the one element of each block above
