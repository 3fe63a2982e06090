"""placeholder"""


def operator_dashboard(request, context):
    return context


merchant_dashboard = supplier_dashboard = operator_dashboard
